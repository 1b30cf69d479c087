export * from './events';
export * from './registration';
export * from './signature-scheme';
export * from './together-webhooks';
