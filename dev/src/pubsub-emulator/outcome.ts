import { status } from '@grpc/grpc-js';

/**
 * Expected failures of an RPC are values carrying the gRPC code the real service answers with
 * (ALREADY_EXISTS, NOT_FOUND, INVALID_ARGUMENT, …); the service layer turns them into call status.
 */
export type Failure = { ok: false; code: status; message: string };
export type Outcome<T> = { ok: true; value: T } | Failure;

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const fail = (code: status, message: string): Failure => ({ ok: false, code, message });

// Messages as Google's official emulator words them, so logs read the same against either.
export const topicNotFound = () => fail(status.NOT_FOUND, 'Topic not found');
export const subscriptionNotFound = () => fail(status.NOT_FOUND, 'Subscription does not exist');
