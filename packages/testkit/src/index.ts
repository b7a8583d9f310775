export * from './context';
export * from './deploy-files';
export * from './infra';
export * from './ports';
export * from './redis-server';
export * from './service-conformance';
export * from './spawn';
export * from './wait';
