"""The shared kernel: what every capability needs and nothing that belongs to one.

table (the one definition of the table) · dynamo (client, codecs, AWS error codes → domain
errors) · batch (BatchGet/BatchWrite with their unprocessed items) · item_access · records ·
cursors · keys (every key builder: all partition keys begin with the loyalty group) · objects
(S3 and SQS) · errors · timeutil · idempotency · ids · types · luhn · retry · settings.
"""
