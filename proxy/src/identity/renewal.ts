// When to renew a certificate: at `ratio` of its lifetime (cert-manager's
// default is 2/3), minus up to `jitter` of the lifetime so that a fleet does
// not renew in lockstep. Pure: time and randomness are inputs.
export function renewalTime(notBefore: number, notAfter: number, ratio = 2 / 3, jitter = 0, random = 0): number {
  const lifetime = Math.max(0, notAfter - notBefore);
  return Math.round(notBefore + lifetime * ratio - lifetime * jitter * random);
}
