"""The baseline for cold-import ratios: a bare powertools REST handler with one route."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="Bench")
app = APIGatewayRestResolver(enable_validation=True)


@app.get("/hello")
def hello() -> dict:
    return {"hello": "world"}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return app.resolve(event, context)
