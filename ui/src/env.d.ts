/** esbuild bundles the imported stylesheet into the console's CSS asset; the import has no value. */
declare module '*.css';
