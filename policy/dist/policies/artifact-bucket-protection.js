"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.artifactBucketProtection = exports.ACL_TYPES = exports.PUBLIC_ACCESS_BLOCK_TYPE = exports.ENCRYPTION_TYPES = exports.VERSIONING_TYPES = exports.BUCKET_TYPES = void 0;
exports.appliesTo = appliesTo;
const values_1 = require("../lib/values");
exports.BUCKET_TYPES = ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"];
exports.VERSIONING_TYPES = [
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
];
exports.ENCRYPTION_TYPES = [
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
];
exports.PUBLIC_ACCESS_BLOCK_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
exports.ACL_TYPES = ["aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"];
const PUBLIC_ACLS = ["public-read", "public-read-write", "authenticated-read"];
const BLOCK_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"];
/**
 * Whether a bucket sub-resource (versioning, encryption, …) applies to the bucket: its
 * `bucket` input depends on the bucket resource (known even at preview, when the bucket id
 * is not), or equals the bucket's name or id.
 */
function appliesTo(sub, bucket) {
    if ((sub.propertyDependencies?.bucket ?? []).some((d) => d.urn === bucket.urn)) {
        return true;
    }
    const target = (0, values_1.orWhenUnknown)(() => (0, values_1.text)(sub.props.bucket), undefined);
    if (target === undefined) {
        return false;
    }
    const names = [
        (0, values_1.orWhenUnknown)(() => (0, values_1.text)(bucket.props.bucket), undefined),
        (0, values_1.orWhenUnknown)(() => (0, values_1.text)(bucket.props.id), undefined),
    ];
    return names.includes(target);
}
function encrypts(rule) {
    const algorithm = (0, values_1.text)((0, values_1.record)((0, values_1.record)(rule)?.applyServerSideEncryptionByDefault)?.sseAlgorithm);
    return algorithm !== undefined && algorithm !== "";
}
/** The model artifacts cannot be lost, read in the clear at rest, or exposed publicly. */
exports.artifactBucketProtection = {
    name: "artifact-bucket-protection",
    description: "Every S3 bucket must have versioning enabled, default server-side encryption, and a public access " +
        "block with all four settings on, and no public ACL.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const ofType = (types) => args.resources.filter((r) => types.includes(r.type));
        const versionings = ofType(exports.VERSIONING_TYPES);
        const encryptions = ofType(exports.ENCRYPTION_TYPES);
        const blocks = ofType([exports.PUBLIC_ACCESS_BLOCK_TYPE]);
        const acls = ofType(exports.ACL_TYPES);
        for (const bucket of ofType(exports.BUCKET_TYPES)) {
            const subject = `S3 bucket "${bucket.name}"`;
            // The inline settings of a Bucket are computed outputs, unknown at preview: they count only when known.
            const inlineVersioning = (0, values_1.orWhenUnknown)(() => (0, values_1.record)(bucket.props.versioning)?.enabled === true, false);
            const versioned = versionings.some((v) => appliesTo(v, bucket) && (0, values_1.text)((0, values_1.record)(v.props.versioningConfiguration)?.status) === "Enabled");
            if (!inlineVersioning && !versioned) {
                report(`${subject} must have versioning enabled (an aws.s3.BucketVersioning with status Enabled)`, bucket.urn);
            }
            const inlineEncryption = (0, values_1.orWhenUnknown)(() => encrypts((0, values_1.record)(bucket.props.serverSideEncryptionConfiguration)?.rule), false);
            const encrypted = encryptions.some((e) => appliesTo(e, bucket) && (0, values_1.list)(e.props.rules).some(encrypts));
            if (!inlineEncryption && !encrypted) {
                report(`${subject} must be encrypted at rest (an aws.s3.BucketServerSideEncryptionConfiguration with a ` +
                    "default sseAlgorithm)", bucket.urn);
            }
            const own = blocks.filter((b) => appliesTo(b, bucket));
            if (own.length === 0) {
                report(`${subject} must have a BucketPublicAccessBlock with ${BLOCK_FLAGS.join(", ")} all set to true`, bucket.urn);
            }
            for (const b of own) {
                const off = BLOCK_FLAGS.filter((flag) => b.props[flag] !== true);
                if (off.length > 0) {
                    report(`${subject}: its public access block "${b.name}" must set ${off.join(", ")} to true`, b.urn);
                }
            }
            const bucketAcl = (0, values_1.orWhenUnknown)(() => (0, values_1.text)(bucket.props.acl), undefined);
            if (bucketAcl !== undefined && PUBLIC_ACLS.includes(bucketAcl)) {
                report(`${subject} must not have the public ACL ${bucketAcl}`, bucket.urn);
            }
            for (const a of acls.filter((x) => appliesTo(x, bucket))) {
                const acl = (0, values_1.text)(a.props.acl);
                if (acl !== undefined && PUBLIC_ACLS.includes(acl)) {
                    report(`${subject} must not have the public ACL ${acl} (set by "${a.name}")`, a.urn);
                }
            }
        }
    },
};
