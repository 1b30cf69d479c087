export * from './events';
export * from './signature-scheme';
export * from './together-webhooks';
