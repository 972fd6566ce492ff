/** Checks shared by the AWS doubles: SigV4 authorization naming the expected key and region. */
import { header, type RecordedRequest } from './http-double.js';

export interface AwsExpectations {
  accessKeyId?: string;
  region?: string;
  /** SigV4 signing name: `monitoring` (CloudWatch), `events` (EventBridge) */
  service: string;
}

export function awsRequestProblems(
  req: RecordedRequest,
  contentType: string,
  target: string,
  exp: AwsExpectations,
): string[] {
  const problems: string[] = [];
  if (req.method !== 'POST' || req.path !== '/')
    problems.push(`expected POST /, got ${req.method} ${req.path}`);
  const ct = header(req, 'content-type');
  if (ct !== contentType) problems.push(`content-type ${ct}, expected ${contentType}`);
  const t = header(req, 'x-amz-target');
  if (t !== target) problems.push(`x-amz-target ${t}, expected ${target}`);
  const auth = header(req, 'authorization') ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.exec(
      auth,
    );
  if (!m) problems.push('missing or malformed SigV4 authorization');
  else {
    if (exp.accessKeyId && m[1] !== exp.accessKeyId) problems.push(`signed with key ${m[1]}`);
    if (exp.region && m[2] !== exp.region) problems.push(`signed for region ${m[2]}`);
    if (m[3] !== exp.service) problems.push(`signed for service ${m[3]}`);
  }
  return problems;
}

export function awsError(status: number, type: string, message = type) {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({ __type: type, message }),
  };
}
