import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Kek } from '../domain/key-ring';

/**
 * A key-encryption key held by AWS KMS: data keys are wrapped with `Encrypt` and unwrapped
 * with `Decrypt` (the key itself never leaves KMS). The authenticated data goes in as the
 * encryption context, so KMS refuses a wrapped key presented for another workspace, purpose,
 * record, revision or key version, and CloudTrail records which secret each call was for.
 * KMS counts and rotates its own key material, so vault's GCM bound does not apply to it.
 */
export function kmsKek(client: KMSClient, keyId: string): Kek {
  const context = (aad: Buffer) => ({ 'wapi-vault': aad.toString('utf8') });
  return {
    kind: 'kms',
    async wrap(dataKey, aad) {
      const out = await client.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: dataKey, EncryptionContext: context(aad) }),
      );
      if (!out.CiphertextBlob) throw new Error('KMS Encrypt returned no ciphertext');
      return Buffer.from(out.CiphertextBlob);
    },
    async unwrap(wrapped, aad) {
      const out = await client.send(
        new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: context(aad) }),
      );
      if (!out.Plaintext) throw new Error('KMS Decrypt returned no plaintext');
      return Buffer.from(out.Plaintext);
    },
  };
}

export function createKmsClient(options: {
  region: string;
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}): KMSClient {
  return new KMSClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
  });
}

/** Parses `VAULT_KMS_KEYS` (`3=<key id, ARN or alias>,…`) into KEKs by version. */
export function kmsKeksOf(text: string, client: () => KMSClient): Map<number, Kek> {
  const out = new Map<number, Kek>();
  for (const entry of text.split(',').filter((e) => e.trim() !== '')) {
    const at = entry.indexOf('=');
    out.set(Number(entry.slice(0, at).trim()), kmsKek(client(), entry.slice(at + 1).trim()));
  }
  return out;
}
