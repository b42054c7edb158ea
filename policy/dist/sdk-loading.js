"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFERRED = void 0;
exports.deferred = deferred;
exports.deferUnusedSdkModules = deferUnusedSdkModules;
/**
 * Loads two parts of the Pulumi Node.js SDK when they are first used instead of when
 * `@pulumi/pulumi` is: the Automation API (`pulumi.automation`, which `@pulumi/pulumi/index.js`
 * loads eagerly) and npm's dependency walker `@npmcli/arborist` (which the SDK's closure
 * serialiser loads eagerly and uses only to package a serialised function's dependencies).
 * The program and the policy pack use neither, yet together they are about two thirds of what
 * `require("@pulumi/pulumi")` loads (766 modules; 239 without them), and every engine process
 * that runs the program or the pack pays for them at start.
 *
 * Import this module first, before anything that loads `@pulumi/pulumi`. A deferred module is
 * a stand-in that loads the real one on its first use (any property read, `in`, key listing);
 * it answers `__esModule` without loading, so TypeScript's import helpers keep the stand-in
 * as it is instead of copying the real module's keys. Only those two requests from those two
 * SDK files are deferred; every other `require` is untouched.
 */
const module_1 = require("module");
/** Deferred requests: the request and the end of the path of the SDK file that makes it. */
exports.DEFERRED = [
    { request: "./automation", from: "/@pulumi/pulumi/index.js" },
    { request: "@npmcli/arborist", from: "/@pulumi/pulumi/runtime/closure/codePaths.js" },
];
const INSTALLED = Symbol.for("churn-model.sdk-loading");
/** A stand-in for the module `load()` returns, loading it on first use. */
function deferred(load) {
    let real;
    const target = () => (real ??= load());
    return new Proxy({}, {
        get: (_t, key) => (key === "__esModule" ? true : Reflect.get(target(), key)),
        has: (_t, key) => key === "__esModule" || Reflect.has(target(), key),
        ownKeys: () => Reflect.ownKeys(target()),
        getOwnPropertyDescriptor: (_t, key) => {
            const d = Reflect.getOwnPropertyDescriptor(target(), key);
            // The stand-in's own (empty) target has no such property: it must be reported configurable.
            return d === undefined ? undefined : { ...d, configurable: true };
        },
        set: (_t, key, value) => Reflect.set(target(), key, value),
        defineProperty: (_t, key, d) => Reflect.defineProperty(target(), key, d),
        deleteProperty: (_t, key) => Reflect.deleteProperty(target(), key),
    });
}
/** Installs the deferral (once per process; a second call does nothing). */
function deferUnusedSdkModules() {
    const mod = module_1.Module;
    if (mod[INSTALLED])
        return;
    mod[INSTALLED] = true;
    const original = mod._load;
    mod._load = function (request, parent, isMain) {
        const from = parent?.filename?.split("\\").join("/");
        if (from !== undefined && exports.DEFERRED.some((d) => d.request === request && from.endsWith(d.from)))
            return deferred(() => original.call(this, request, parent, isMain));
        return original.call(this, request, parent, isMain);
    };
}
deferUnusedSdkModules();
