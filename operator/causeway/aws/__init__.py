"""The AWS edge: the only package that imports boto3. Every call's failure is turned
into `causeway.errors.AwsCallError` so the one error table can classify it."""
