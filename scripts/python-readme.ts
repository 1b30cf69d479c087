/**
 * The generated Python package's own README: jsii-pacmak copies the npm README (npm install, TypeScript) into
 * dist/jsii/python, where setup.py reads it as the wheel's long description (what PyPI shows) and __init__.py
 * carries it as the module docstring (what help(together_webhooks) shows). `npm run build:python` runs this after
 * pacmak: both become the Python README below.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES } from '../lib/events';

const root = join(__dirname, '..');

export function pythonReadme(version: string): string {
  return [intro(version), USE_IT, handlingEvents()].join('\n');
}

function intro(version: string): string {
  const wheel = `together_webhooks-${version}-py3-none-any.whl`;
  return `# together-webhooks (Python)

An AWS CDK construct library: every Together AI job outcome (fine-tune completed, failed or checkpointed, model
deprecated, batch done, ...) arrives as an event on an EventBridge bus, verified, exactly once per outcome.
Together's public API has no webhooks endpoint today, so a scheduled poller in your stack reads its jobs API and
delivers the real events; the webhook endpoint takes over once Together pushes.

This is the Python binding, generated with jsii from the TypeScript library: the constructs run in Node.js at
synth time, so a Python CDK app needs Node.js 20.19 or later (as every Python CDK app does for the \`cdk\` CLI).

## Install

The package is not on PyPI yet. Build the wheel from a clone of the repository (Node.js 20.19+, npm, Python 3.10+
with \`build\`, \`setuptools\` and \`wheel\`):

\`\`\`sh
npm ci && npm run build:python:wheel     # dist/wheel/${wheel}
\`\`\`

Then, in a new CDK app:

\`\`\`sh
mkdir ml-platform && cd ml-platform
cdk init app --language python
source .venv/bin/activate
pip install -r requirements.txt
pip install /path/to/${wheel}   # with aws-cdk-lib >= 2.252.0, constructs 10, jsii, publication
\`\`\`

Once released: \`pip install together-webhooks\`.
`;
}

const USE_IT = `## Use it

In the stack \`cdk init\` wrote (\`ml_platform/ml_platform_stack.py\`), or a whole \`app.py\`:

\`\`\`python
from aws_cdk import App, Stack, aws_events_targets as targets, aws_lambda as lambda_
from together_webhooks import EventType, TogetherEventHandlers, TogetherWebhooks

app = App()
stack = Stack(app, "MlPlatform")
log_model = lambda_.Function(
    stack,
    "LogModel",
    runtime=lambda_.Runtime.PYTHON_3_13,
    handler="index.handler",
    code=lambda_.Code.from_inline("def handler(e, c):\\n    print(e['detail']['data']['model_name'])"),
)

hooks = TogetherWebhooks(
    stack,
    "Hooks",
    handlers=TogetherEventHandlers(fine_tune_completed=[targets.LambdaFunction(log_model)]),
)
hooks.on_event(EventType.BATCH_DONE, targets.LambdaFunction(log_model))
app.synth()
\`\`\`

Props are keyword arguments (\`poller=PollerOptions(api_key=secret)\` turns on the poller, which delivers real events
today); event types are the constants of \`EventType\` (or plain strings such as \`"fine_tune.completed"\`). Then
\`cdk synth\` and \`cdk deploy\`, as for any CDK app.

On Node.js 20 the jsii runtime prints an end-of-life banner on every run: \`export
JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20\`, or set it at the top of \`app.py\`, before the first \`aws_cdk\`
import (its node process starts there, with the environment of that moment):
\`os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")\`.

A prop of the wrong type raises \`TypeError\` before anything is built (\`archive="yes"\`: \`type of argument archive
must be one of (bool, NoneType); got str instead\`); a value the construct refuses raises \`RuntimeError\` with the
construct's own message (\`memory_size=1\`: \`TogetherWebhooks: memorySize must be an integer from 128 to 10240, got
1\`).
`;

function handlingEvents(): string {
  return `## Handling events

\`together_webhooks.events\` has a \`TypedDict\` for each event type, generated from the event catalogue:
\`<Type>Event\` (the EventBridge event), \`<Type>Detail\` (\`id\`, \`type\`, \`data\`, \`outcome_key\`) and
\`<Type>Data\` (exactly that type's fields), plus \`TogetherEvent\` (any of them), \`EVENT_SOURCE\` and \`EVENT_TYPES\`.
Import them for type checking only: the handler's Lambda then needs nothing installed.

\`\`\`python
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from together_webhooks.events import FineTuneCompletedEvent


def handler(event: "FineTuneCompletedEvent", context: object) -> None:
    data = event["detail"]["data"]
    print(data["model_name"], data["eval_loss"])  # keys and types from the event catalogue
    # event["detail"]["outcome_key"] is the same for every delivery of this outcome: key your own writes on it.
\`\`\`

The event types: ${EVENT_TYPES.map((t) => `\`${t}\``).join(', ')}.

## More

The repository's README covers the whole construct (registration, the poller, alerts, recipes, the local
pipeline and the \`together-webhooks\` CLI, which comes with the npm package); its API reference is written for
TypeScript, and the names map as jsii maps them (\`onEvent\` is \`on_event\`, \`fineTuneCompleted\` is
\`fine_tune_completed\`).
`;
}

/** The marker the module docstring starts with in what jsii-pacmak writes: `r'''` on the first line. */
const DOCSTRING = /^r'''\n[\s\S]*?\n'''\n/;

/** Writes the Python README into the generated package (dist/jsii/python by default). */
export function writePythonReadme(dir: string, version: string): void {
  const readme = pythonReadme(version);
  const setup = readFileSync(join(dir, 'setup.py'), 'utf8');
  if (!setup.includes('with open("README.md", encoding="utf8") as fp:')) {
    throw new Error(
      `${join(dir, 'setup.py')} no longer reads README.md as its long description: check jsii-pacmak`,
    );
  }
  const init = join(dir, 'src', 'together_webhooks', '__init__.py');
  const code = readFileSync(init, 'utf8');
  if (!DOCSTRING.test(code))
    throw new Error(`${init} does not start with the r''' module docstring jsii-pacmak writes`);
  if (readme.includes("'''")) throw new Error("the Python README cannot hold ''' (it closes the docstring)");
  writeFileSync(join(dir, 'README.md'), readme);
  writeFileSync(
    init,
    code.replace(DOCSTRING, () => `r'''\n${readme}'''\n`),
  );
}

if (require.main === module) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writePythonReadme(join(root, 'dist', 'jsii', 'python'), version);
  console.error('wrote dist/jsii/python/README.md (and the module docstring)');
}
