"""AWS Lambda agents: the handler, its AWS adapters, leases and the breaker in DynamoDB.

``spoolwatch.serverless.handler.lambda_handler`` is the function's entry point; see
:mod:`spoolwatch.serverless.worker` for what an invocation does.
"""
