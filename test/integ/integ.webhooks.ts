import { DEFAULT_API_KEY_SECRET, integApp, webhooksInteg } from './webhooks-integ-app';

// The integration test for a real account (README: "Integration test on AWS"): deploys the stack
// TogetherWebhooksInteg, runs its assertions (TogetherWebhooksIntegTest/DefaultTest/DeployAssert), destroys both.
// The poller reads the Together API key from the Secrets Manager secret named by TOGETHER_API_KEY_SECRET (default
// together/api-key). The committed snapshot (integ.webhooks.ts.snapshot/) is made with the default name.
const app = integApp();
webhooksInteg(app, { apiKeySecretName: process.env.TOGETHER_API_KEY_SECRET || DEFAULT_API_KEY_SECRET });
app.synth();
