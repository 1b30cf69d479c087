#!/usr/bin/env bash
# `npm run integ`: the integration test (test/integ/integ.webhooks.ts) against the AWS account and region of your
# credentials. Deploys the stack TogetherWebhooksInteg, then its assertion stack, whose custom resources are the
# assertions (a failed one fails that deploy, with its message); then destroys both, whatever happened.
# integ-runner 2.197.10 (the newest) cannot read the cloud assembly aws-cdk-lib 2.276 writes (schema 55; it reads
# 53), so this uses the repository's pinned cdk CLI, which can; `npx integ-runner --directory test/integ
# --language typescript --app "node --import tsx {filePath}" --force` runs the same test once integ-runner does.
set -uo pipefail
cd "$(dirname "$0")/../.."
app="node --import tsx test/integ/integ.webhooks.ts"
out="$(mktemp -d "${TMPDIR:-/tmp}/together-webhooks-integ.XXXXXX")"
echo "integ: deploying TogetherWebhooksInteg (API key from the secret ${TOGETHER_API_KEY_SECRET:-together/api-key})"
npx cdk deploy --app "$app" --output "$out" --all --require-approval never
deployed=$?
npx cdk destroy --app "$app" --output "$out" --all --force
destroyed=$?
rm -rf "$out"
if [ "$destroyed" -ne 0 ]; then
  echo "integ: destroy failed (see above); if they exist, delete the CloudFormation stacks" \
    "TogetherWebhooksIntegTestDefaultTestDeployAssert1FF08025 and TogetherWebhooksInteg by hand" >&2
fi
if [ "$deployed" -eq 0 ] && [ "$destroyed" -eq 0 ]; then
  echo "integ: passed (signed webhook -> queue; poller run completed)"
  exit 0
fi
[ "$deployed" -ne 0 ] && echo "integ: FAILED: the deploy output above says why (a failed assertion is a" \
  "failed resource of the stack TogetherWebhooksIntegTestDefaultTestDeployAssert1FF08025, with its message)" >&2
exit 1
