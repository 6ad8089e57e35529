"""Pure planners, one per kind: (desired object, observed AWS state, clock) → the
actions to apply and the status to write. No I/O happens here."""
