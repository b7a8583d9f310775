export * from './classify';
export * from './client';
export * from './meta-api-error';
