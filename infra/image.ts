/**
 * Image references of a model service: derived from a repository and the model version, and
 * checked against the version a component declares. The mapping is the contract's
 * (policy/contract/version.ts): a digest pins by `@`, a semver tag writes `+` as `_`.
 */
export { imageFor, imageRunsVersion } from "../policy/contract";
