// Well-known numbers shared by the proxy, `tlsmesh init` and the injector.
export const PROXY_UID = 1337;
export const PROXY_GID = 1337;
export const INBOUND_CAPTURE_PORT = 15006;
export const OUTBOUND_CAPTURE_PORT = 15001;
export const ADMIN_PORT = 15020;
export const IDENTITY_MOUNT_PATH = '/var/run/secrets/tlsmesh';
