// The jsii entry point: what every language gets. The TypeScript-only typed-event helpers (the catalogue, typed
// EventBridge events, guards, sample events) are `together-webhooks/events` (lib/events.ts).
export * from './auto-deploy';
export * from './batch-results';
export * from './event-type';
export * from './fine-tune-retry';
export * from './model-aliases';
export * from './poller';
export * from './registration';
export * from './retry-rule';
export * from './signature-scheme';
export * from './together-webhooks';
export * from './together-webhooks-props';
export * from './training-monitor';
