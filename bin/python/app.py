"""The example app in Python: bin/app.ts's twin (`npm run test:python` synthesizes both and compares the templates).

    cdk synth --app "python bin/python/app.py"     (from the repository root, in the venv test:python builds)
"""

import os

# The jsii kernel is a node process started by the first aws_cdk import and given this environment: set it first,
# or node 20's end-of-life banner is printed on every run.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402

from example_stack import ExampleStack, example_props_from_context  # noqa: E402

app = App()
ExampleStack(app, "TogetherWebhooksExample", **example_props_from_context(app.node))
app.synth()
