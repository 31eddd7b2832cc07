// The bridge to Streamlit (Components v2): mount one React root per element, give the
// canvas Python's latest data on every run, unmount when Streamlit removes the element.
import React from "react";
import { createRoot } from "react-dom/client";
import { ReactFlowProvider } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import "./style.css";
import Canvas from "./Canvas.jsx";

const roots = new WeakMap();

export default function render({ parentElement, data, setStateValue }) {
  let root = roots.get(parentElement);
  if (!root) {
    const mount = document.createElement("div");
    mount.className = "nc-mount";
    parentElement.appendChild(mount);
    root = createRoot(mount);
    roots.set(parentElement, root);
  }
  root.render(
    <ReactFlowProvider>
      <Canvas data={data} setStateValue={setStateValue} />
    </ReactFlowProvider>,
  );
  return () => {
    const mounted = roots.get(parentElement);
    if (mounted) {
      mounted.unmount();
      roots.delete(parentElement);
    }
  };
}
