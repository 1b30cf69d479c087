#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ExampleStack } from './example-stack';

const app = new App();
new ExampleStack(app, 'TogetherWebhooksExample', {
  alertEmail: app.node.tryGetContext('alertEmail'),
  apiKeySecretName: app.node.tryGetContext('apiKeySecretName') ?? 'together/api-key',
  watchModels: app.node.tryGetContext('watchModels')?.split(',') ?? [
    'meta-llama/Llama-3.3-70B-Instruct-Turbo',
    'Qwen/Qwen3.5-9B',
  ],
  // -c autoDeploy=false leaves out the recipe that deploys completed fine-tunes on GPUs.
  autoDeploy: String(app.node.tryGetContext('autoDeploy') ?? 'true') !== 'false',
  fineTunePrefix: app.node.tryGetContext('fineTunePrefix'),
});
