import type { JsonSchema } from '@strata/schemas';

/** References and the error answer shape, shared by the parts of the OpenAPI document (openapi.ts, openapi-segment.ts). */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
export const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
export const RETRY_AFTER = { $ref: '#/components/headers/RetryAfter' };

/** An error answer: the shared body (runtime/src/http-errors.ts) with the codes this status uses. */
export function errorResponse(description: string, codes: string[], details: Record<string, JsonSchema> = {}, headers?: Record<string, unknown>) {
  return {
    description,
    ...(headers && { headers }),
    content: {
      'application/json': {
        schema: { allOf: [ref('Error'), { type: 'object', properties: { error: { enum: codes }, ...details } }] },
      },
    },
  };
}

/** The refusals every authenticated POST can answer, by status (components.responses). */
export const REFUSALS = {
  '400': responseRef('BadRequest'),
  '401': responseRef('Unauthenticated'),
  '403': responseRef('Forbidden'),
  '413': responseRef('PayloadTooLarge'),
  '415': responseRef('UnsupportedMediaType'),
  '429': responseRef('RateLimited'),
  '500': responseRef('Internal'),
  '503': responseRef('Unavailable'),
};

/**
 * OPTIONS on a POST route: the CORS preflight. Answered for the origins that browser keys list
 * (https://fetch.spec.whatwg.org/#http-cors-protocol); without Origin a plain OPTIONS answering Allow.
 */
export function preflight(operationId: string, path: string) {
  return {
    summary: 'CORS preflight',
    operationId,
    description: `Answered for the origins that browser keys list (https://fetch.spec.whatwg.org/#http-cors-protocol). Without Origin it is a plain OPTIONS and answers Allow.`,
    security: [],
    parameters: [
      { name: 'Origin', in: 'header', schema: { type: 'string' } },
      { name: 'Access-Control-Request-Method', in: 'header', schema: { type: 'string' } },
      { name: 'Access-Control-Request-Headers', in: 'header', schema: { type: 'string' } },
    ],
    responses: {
      '204': {
        description: `The origin may call POST ${path} (or no Origin was sent).`,
        headers: Object.fromEntries(
          ['Access-Control-Allow-Origin', 'Access-Control-Allow-Methods', 'Access-Control-Allow-Headers', 'Access-Control-Max-Age', 'Allow'].map((h) => [
            h,
            { schema: { type: 'string' } },
          ]),
        ),
      },
      '403': errorResponse('No key lists this origin.', ['forbidden_origin']),
    },
  };
}
