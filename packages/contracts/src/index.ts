import './formats';

export * from './compliance';
export * from './directory';
export * from './error-response';
export * from './errors';
export * from './gateway';
export * from './health';
export * from './meta';
export * from './permissions';
export * from './prefixes';
export * from './queues';
export * from './services';
export * from './vault';
