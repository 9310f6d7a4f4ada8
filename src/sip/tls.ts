import { readFile } from 'node:fs/promises';

/** The operator's SIP over TLS files (SIP_TLS_CERT / SIP_TLS_KEY / SIP_TLS_CA: PEM), read once at start. */
export async function readSipTls(c: {
  port: number;
  certFile: string;
  keyFile: string;
  caFile?: string;
}): Promise<{ port: number; cert: Buffer; key: Buffer; ca?: Buffer }> {
  const [cert, key, ca] = await Promise.all([
    readFile(c.certFile),
    readFile(c.keyFile),
    c.caFile ? readFile(c.caFile) : Promise.resolve(undefined),
  ]);
  return { port: c.port, cert, key, ...(ca ? { ca } : {}) };
}
