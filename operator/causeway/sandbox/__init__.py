"""Embedded sandbox (moto + kmock) for the demo, e2e tests and benchmark; never used by `causeway run`."""  # noqa: E501
