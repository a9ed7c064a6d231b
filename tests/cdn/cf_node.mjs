// Independent CloudFront signer for test_cloudfront.py: @aws-sdk/cloudfront-signer (RSA-SHA1).
// stdin: one JSON object per line {url, key, kpid, expires, policy?}; stdout: one signed URL each.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const { getSignedUrl } = require("@aws-sdk/cloudfront-signer");

const lines = readFileSync(0, "utf8").split("\n").filter((l) => l.length);
for (const line of lines) {
  const job = JSON.parse(line);
  const args = { url: job.url, keyPairId: job.kpid, privateKey: job.key };
  if (job.policy) args.policy = job.policy;
  else args.dateLessThan = new Date(job.expires * 1000).toISOString();
  process.stdout.write(getSignedUrl(args) + "\n");
}
