// Builds the canvas into build/ as one ES module (index.js) and one stylesheet (index.css),
// the two files the component manifest (pyproject.toml beside this file) serves.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: "build",
    emptyOutDir: true,
    minify: true,
    cssCodeSplit: false,
    lib: { entry: "./src/index.jsx", formats: ["es"], fileName: () => "index.js", cssFileName: "index" },
  },
});
