// A node:test reporter that ends the process at the first failing test (see engine-tests.mjs).
export default async function* bail(source) {
  for await (const event of source) {
    if (event.type === 'test:fail') {
      yield `not ok: ${event.data.name}\n`;
      process.exit(1);
    }
  }
}
