/**
 * Independent reads run side by side, with the error a sequential run would have reported:
 * every read is waited for, and the first one that failed, in the order given, is thrown (so
 * an exit code does not depend on which engine process happened to fail first).
 */
export async function sideBySide<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [x, y] = await Promise.allSettled([a, b]);
  if (x.status === "rejected") throw x.reason;
  if (y.status === "rejected") throw y.reason;
  return [x.value, y.value];
}
