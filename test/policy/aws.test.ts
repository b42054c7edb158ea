import { expect } from "chai";
import { artifactBucketProtection } from "../../policy/policies/artifact-bucket-protection";
import { ecrRepositoryHardening } from "../../policy/policies/ecr-repository-hardening";
import { fixtureUrn, runResourcePolicy, runStackPolicy, StackFixture, UNKNOWN, withValue } from "./helper";

const REPOSITORY = "aws:ecr/repository:Repository";

describe("policy ecr-repository-hardening", () => {
  const repository = {
    name: "churn-model",
    imageTagMutability: "IMMUTABLE",
    imageScanningConfiguration: { scanOnPush: true },
    encryptionConfigurations: [{ encryptionType: "AES256" }],
  };
  const run = (props: Record<string, unknown>) =>
    runResourcePolicy(ecrRepositoryHardening, {
      type: REPOSITORY,
      props,
      name: "churn-model-registry-repository",
    });
  const S = 'ECR repository "churn-model-registry-repository"';

  it("passes an immutable repository that scans on push", async () => {
    expect(await run(repository)).to.deep.equal({ violations: [], urns: [] });
  });

  it("refuses mutable tags", async () => {
    expect((await run({ ...repository, imageTagMutability: "MUTABLE" })).violations).to.deep.equal([
      `${S} must set imageTagMutability to IMMUTABLE (it is MUTABLE)`,
    ]);
  });

  it("refuses tags that are mutable by exclusion", async () => {
    expect(
      (await run({ ...repository, imageTagMutability: "IMMUTABLE_WITH_EXCLUSION" })).violations,
    ).to.deep.equal([`${S} must set imageTagMutability to IMMUTABLE (it is IMMUTABLE_WITH_EXCLUSION)`]);
  });

  it("refuses an unset mutability, which AWS reads as MUTABLE", async () => {
    expect((await run(withValue(repository, ["imageTagMutability"], undefined))).violations).to.deep.equal([
      `${S} must set imageTagMutability to IMMUTABLE (it is unset, which means MUTABLE)`,
    ]);
  });

  it("refuses a repository that does not scan on push", async () => {
    expect(
      (await run({ ...repository, imageScanningConfiguration: { scanOnPush: false } })).violations,
    ).to.deep.equal([`${S} must set imageScanningConfiguration.scanOnPush to true`]);
  });

  it("refuses a repository without a scanning configuration", async () => {
    expect(
      (await run(withValue(repository, ["imageScanningConfiguration"], undefined))).violations,
    ).to.deep.equal([`${S} must set imageScanningConfiguration.scanOnPush to true`]);
  });

  it("ignores other resource types", async () => {
    const outcome = await runResourcePolicy(ecrRepositoryHardening, {
      type: "aws:ecr/lifecyclePolicy:LifecyclePolicy",
      props: { repository: "churn-model" },
    });
    expect(outcome.violations).to.deep.equal([]);
  });
});

describe("policy artifact-bucket-protection", () => {
  const BUCKET = "aws:s3/bucket:Bucket";
  const VERSIONING = "aws:s3/bucketVersioning:BucketVersioning";
  const SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration";
  const PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock";
  const S = 'S3 bucket "artifacts-bucket"';
  const dependsOnBucket = { bucket: ["artifacts-bucket"] };

  /** The ModelArtifacts component's bucket as it looks at preview: id and inline settings unknown. */
  function resources(): StackFixture[] {
    return [
      {
        type: BUCKET,
        name: "artifacts-bucket",
        props: {
          bucket: "artifacts-bucket-1a2b3c4",
          id: UNKNOWN,
          versioning: UNKNOWN,
          serverSideEncryptionConfiguration: UNKNOWN,
          acl: UNKNOWN,
        },
      },
      {
        type: PAB,
        name: "artifacts-public-access-block",
        props: {
          bucket: UNKNOWN,
          blockPublicAcls: true,
          blockPublicPolicy: true,
          ignorePublicAcls: true,
          restrictPublicBuckets: true,
        },
        propertyDependencies: dependsOnBucket,
      },
      {
        type: VERSIONING,
        name: "artifacts-versioning",
        props: { bucket: UNKNOWN, versioningConfiguration: { status: "Enabled" } },
        propertyDependencies: dependsOnBucket,
      },
      {
        type: SSE,
        name: "artifacts-encryption",
        props: {
          bucket: UNKNOWN,
          rules: [
            { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true },
          ],
        },
        propertyDependencies: dependsOnBucket,
      },
    ];
  }
  const run = (fixtures: StackFixture[]) => runStackPolicy(artifactBucketProtection, fixtures);
  const without = (name: string) => resources().filter((r) => r.name !== name);
  const changed = (name: string, path: string[], value: unknown) =>
    resources().map((r) => (r.name === name ? { ...r, props: withValue(r.props, path, value) } : r));

  it("passes a versioned, encrypted, non-public bucket at preview", async () => {
    expect(await run(resources())).to.deep.equal({ violations: [], urns: [] });
  });

  it("matches sub-resources by bucket name once values are known", async () => {
    const known = resources().map((r) => ({
      ...r,
      propertyDependencies: undefined,
      props:
        r.type === BUCKET
          ? { bucket: "artifacts-bucket-1a2b3c4", id: "artifacts-bucket-1a2b3c4" }
          : {
              ...r.props,
              bucket: "artifacts-bucket-1a2b3c4",
            },
    }));
    expect((await run(known)).violations).to.deep.equal([]);
  });

  it("refuses a bucket without versioning", async () => {
    const outcome = await run(without("artifacts-versioning"));
    expect(outcome.violations).to.deep.equal([
      `${S} must have versioning enabled (an aws.s3.BucketVersioning with status Enabled)`,
    ]);
    expect(outcome.urns).to.deep.equal([fixtureUrn(BUCKET, "artifacts-bucket")]);
  });

  it("refuses suspended versioning", async () => {
    const outcome = await run(
      changed("artifacts-versioning", ["versioningConfiguration", "status"], "Suspended"),
    );
    expect(outcome.violations).to.deep.equal([
      `${S} must have versioning enabled (an aws.s3.BucketVersioning with status Enabled)`,
    ]);
  });

  it("refuses versioning that belongs to another bucket", async () => {
    const other = resources().map((r) =>
      r.name === "artifacts-versioning"
        ? { ...r, propertyDependencies: undefined, props: { ...r.props, bucket: "x" } }
        : r,
    );
    expect((await run(other)).violations).to.deep.equal([
      `${S} must have versioning enabled (an aws.s3.BucketVersioning with status Enabled)`,
    ]);
  });

  it("refuses a bucket without default encryption", async () => {
    expect((await run(without("artifacts-encryption"))).violations).to.deep.equal([
      `${S} must be encrypted at rest (an aws.s3.BucketServerSideEncryptionConfiguration with a default ` +
        "sseAlgorithm)",
    ]);
  });

  it("refuses an encryption configuration without a default algorithm", async () => {
    expect(
      (await run(changed("artifacts-encryption", ["rules"], [{ bucketKeyEnabled: true }]))).violations,
    ).to.deep.equal([
      `${S} must be encrypted at rest (an aws.s3.BucketServerSideEncryptionConfiguration with a default ` +
        "sseAlgorithm)",
    ]);
  });

  it("refuses a bucket without a public access block", async () => {
    expect((await run(without("artifacts-public-access-block"))).violations).to.deep.equal([
      `${S} must have a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, ` +
        "restrictPublicBuckets all set to true",
    ]);
  });

  it("refuses a public access block that leaves a setting off", async () => {
    const outcome = await run(changed("artifacts-public-access-block", ["blockPublicPolicy"], false));
    expect(outcome.violations).to.deep.equal([
      `${S}: its public access block "artifacts-public-access-block" must set blockPublicPolicy to true`,
    ]);
    expect(outcome.urns).to.deep.equal([fixtureUrn(PAB, "artifacts-public-access-block")]);
  });

  it("refuses a public-read ACL on the bucket", async () => {
    expect((await run(changed("artifacts-bucket", ["acl"], "public-read"))).violations).to.deep.equal([
      `${S} must not have the public ACL public-read`,
    ]);
  });

  it("refuses a public ACL set by a BucketAcl resource", async () => {
    const acl: StackFixture = {
      type: "aws:s3/bucketAcl:BucketAcl",
      name: "artifacts-acl",
      props: { bucket: UNKNOWN, acl: "public-read-write" },
      propertyDependencies: dependsOnBucket,
    };
    expect((await run([...resources(), acl])).violations).to.deep.equal([
      `${S} must not have the public ACL public-read-write (set by "artifacts-acl")`,
    ]);
  });

  it("accepts inline versioning and encryption on a Bucket once they are known", async () => {
    const inline = changed("artifacts-bucket", ["versioning"], { enabled: true })
      .map((r) =>
        r.name === "artifacts-bucket"
          ? {
              ...r,
              props: withValue(r.props, ["serverSideEncryptionConfiguration"], {
                rule: { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
              }),
            }
          : r,
      )
      .filter((r) => r.type !== VERSIONING && r.type !== SSE);
    expect((await run(inline)).violations).to.deep.equal([]);
  });

  it("checks BucketV2 buckets too", async () => {
    const v2 = without("artifacts-versioning").map((r) =>
      r.type === BUCKET ? { ...r, type: "aws:s3/bucketV2:BucketV2" } : r,
    );
    expect((await run(v2)).violations).to.deep.equal([
      `${S} must have versioning enabled (an aws.s3.BucketVersioning with status Enabled)`,
    ]);
  });
});
