"""The Lambda entry points, one thin module per function (api, instrument_api, authorizer,
imports, jobs, instrument_batches), and what they share: rest (resolver, scope check, error
shape), sqs_batches, openapi (the document), api_context (the points API's Context).
"""
