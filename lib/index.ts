export * from './events';
export * from './poller';
export * from './registration';
export * from './signature-scheme';
export * from './together-webhooks';
