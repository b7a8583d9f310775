export * from './indexes';
export * from './mongo';
export * from './tenant';
