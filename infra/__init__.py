"""AWS CDK app for the loyalty engine (`python -m infra.app`, or `cdk synth` via cdk.json)."""
