export { createVaultClient, type VaultClient, type VaultClientOptions } from './client';
