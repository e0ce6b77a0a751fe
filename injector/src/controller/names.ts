// Every label and annotation the certificate controller reads or writes.

import { ANNOTATION, NAMESPACE_LABEL } from '../names.js';

/** The namespace label that opts a namespace in (the webhook's namespaceSelector uses it too). */
export const INJECT_LABEL = NAMESPACE_LABEL;
export const INJECT_ENABLED = 'enabled';
export const INJECT_DISABLED = 'disabled';

/**
 * On a ServiceAccount in a namespace that is not enabled: `"true"` gives it a
 * Certificate too, for pods opted in one by one with the same pod annotation.
 */
export const INJECT_ANNOTATION = ANNOTATION.inject;

/** On every Certificate (and its Secret) the controller owns: how it finds its own objects. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'tlsmesh-controller';
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** The ServiceAccount a Certificate is for (an annotation: names may be longer than a label value). */
export const SERVICE_ACCOUNT_ANNOTATION = 'tlsmesh.io/service-account';
