import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ModelRegistryArgs {
  /** Repository name. Default "churn-model". */
  readonly repositoryName?: string;
  /** Tagged images kept by the lifecycle rule. Default 50. */
  readonly keepImages?: number;
  /** Opt out of the lifecycle rule (expire untagged images, keep the newest tagged). Default false. */
  readonly skipLifecyclePolicy?: boolean;
}

/**
 * The shared image registry: an ECR repository with immutable tags and scan on push, and
 * a lifecycle rule unless `skipLifecyclePolicy`. One stack owns it (staging, by default);
 * the other reads its `registryUrl` output through a StackReference.
 */
export class ModelRegistry extends pulumi.ComponentResource {
  public readonly repositoryUrl: pulumi.Output<string>;
  public readonly repositoryArn: pulumi.Output<string>;

  constructor(name: string, args: ModelRegistryArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("churn:aws:ModelRegistry", name, {}, opts);
    const keep = args.keepImages ?? 50;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new Error(`ModelRegistry: keepImages (${keep}) must be an integer ≥ 1`);
    }
    const repo = new aws.ecr.Repository(
      `${name}-repository`,
      {
        name: args.repositoryName ?? "churn-model",
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        forceDelete: false,
      },
      // Shared by both stacks: never deleted by a destroy of the owning stack.
      { parent: this, protect: true },
    );
    if (!(args.skipLifecyclePolicy ?? false)) {
      new aws.ecr.LifecyclePolicy(
        `${name}-lifecycle`,
        {
          repository: repo.name,
          policy: JSON.stringify({
            rules: [
              {
                rulePriority: 1,
                description: "Expire untagged images after 7 days",
                selection: {
                  tagStatus: "untagged",
                  countType: "sinceImagePushed",
                  countUnit: "days",
                  countNumber: 7,
                },
                action: { type: "expire" },
              },
              {
                rulePriority: 2,
                description: `Keep the newest ${keep} tagged images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
                action: { type: "expire" },
              },
            ],
          }),
        },
        { parent: this },
      );
    }
    this.repositoryUrl = repo.repositoryUrl;
    this.repositoryArn = repo.arn;
    this.registerOutputs({ repositoryUrl: this.repositoryUrl, repositoryArn: this.repositoryArn });
  }
}

export interface ModelArtifactsArgs {
  /** The environment, used in names and tags. Required. */
  readonly environment: string;
  /** Namespace and name of the service account allowed to read artifacts. Required. */
  readonly serviceAccount: { readonly namespace: string; readonly name: string };
  /** The EKS cluster's OIDC provider ARN; without it no IAM role is created. Default none. */
  readonly oidcProviderArn?: string;
  /** The OIDC issuer host/path (without https://). Required with oidcProviderArn. */
  readonly oidcIssuer?: string;
}

/**
 * The model-artifact bucket: private (all public access blocked), versioned, encrypted with
 * KMS, and an IAM role the service account assumes (IRSA) to read it.
 */
export class ModelArtifacts extends pulumi.ComponentResource {
  public readonly bucketName: pulumi.Output<string>;
  public readonly readerRoleArn?: pulumi.Output<string>;

  constructor(name: string, args: ModelArtifactsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("churn:aws:ModelArtifacts", name, {}, opts);
    if ((args.oidcProviderArn === undefined) !== (args.oidcIssuer === undefined)) {
      throw new Error("ModelArtifacts: oidcProviderArn and oidcIssuer must be given together");
    }
    const tags = { app: "churn-model", environment: args.environment };
    const bucket = new aws.s3.Bucket(`${name}-bucket`, { forceDestroy: false, tags }, { parent: this });
    new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access-block`,
      {
        bucket: bucket.id,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      { parent: this },
    );
    new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } },
      { parent: this },
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }],
      },
      { parent: this },
    );
    this.bucketName = bucket.bucket;

    if (args.oidcProviderArn !== undefined && args.oidcIssuer !== undefined) {
      const issuer = args.oidcIssuer.replace(/^https:\/\//, "");
      const role = new aws.iam.Role(
        `${name}-reader`,
        {
          assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { Federated: args.oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                  StringEquals: {
                    [`${issuer}:sub`]: `system:serviceaccount:${args.serviceAccount.namespace}:${args.serviceAccount.name}`,
                    [`${issuer}:aud`]: "sts.amazonaws.com",
                  },
                },
              },
            ],
          }),
          tags,
        },
        { parent: this },
      );
      new aws.iam.RolePolicy(
        `${name}-reader-policy`,
        {
          role: role.id,
          policy: bucket.arn.apply((arn) =>
            JSON.stringify({
              Version: "2012-10-17",
              Statement: [
                { Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: `${arn}/*` },
                { Effect: "Allow", Action: ["s3:ListBucket"], Resource: arn },
              ],
            }),
          ),
        },
        { parent: this },
      );
      this.readerRoleArn = role.arn;
    }
    this.registerOutputs({ bucketName: this.bucketName, readerRoleArn: this.readerRoleArn });
  }
}
