// @peculiar/x509 needs the reflect-metadata polyfill loaded before it, and a
// WebCrypto provider: this module is the one place that sets both up.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
