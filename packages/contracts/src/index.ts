import './formats';

export * from './error-response';
export * from './errors';
export * from './health';
export * from './meta';
export * from './prefixes';
export * from './queues';
export * from './services';
