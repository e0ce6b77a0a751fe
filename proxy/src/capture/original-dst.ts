// The original destination of a connection redirected by iptables REDIRECT
// (SO_ORIGINAL_DST). Implemented by a native addon (issue: transparent capture).
import type { Socket } from 'node:net';
import { CaptureError } from '../errors.js';

export interface OriginalDst {
  address: string;
  port: number;
  family: 4 | 6;
}

/** Undefined when `original` can be used here, else why not (one line). */
export function originalDstProblem(): string | undefined {
  return 'the SO_ORIGINAL_DST addon is not built yet';
}

export function originalDst(_socket: Socket): OriginalDst {
  throw new CaptureError('original destination: the SO_ORIGINAL_DST addon is not built yet');
}
