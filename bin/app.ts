#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ExampleStack, examplePropsFromContext } from './example-stack';

const app = new App();
new ExampleStack(app, 'TogetherWebhooksExample', examplePropsFromContext(app.node));
