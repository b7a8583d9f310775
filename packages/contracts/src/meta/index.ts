// Meta Graph API and webhook payloads (WhatsApp Cloud API), as TypeBox schemas.
export * from './graph-error';
export * from './management';
export * from './meta-json';
export * from './sandbox-control';
export * from './send-message';
export * from './webhook';
