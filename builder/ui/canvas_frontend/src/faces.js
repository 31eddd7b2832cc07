// The faces Python sends (one per node), kept so that a node re-renders only when its own
// face changed: a parameter edit on one node of 500 redraws that node alone.
import { useSyncExternalStore } from "react";

export function newFaces() {
  return { faces: {}, texts: {}, listeners: new Map() };
}

// Take a new set of faces; tell the nodes whose face changed.
export function update(store, faces) {
  const changed = [];
  const texts = {};
  for (const [id, face] of Object.entries(faces)) {
    texts[id] = JSON.stringify(face);
    if (texts[id] !== store.texts[id]) changed.push(id);
  }
  for (const id of Object.keys(store.faces)) if (!(id in faces)) changed.push(id);
  store.faces = faces;
  store.texts = texts;
  for (const id of changed) for (const listener of store.listeners.get(id) || []) listener();
}

export function useFace(store, id) {
  return useSyncExternalStore(
    (listener) => {
      if (!store.listeners.has(id)) store.listeners.set(id, new Set());
      store.listeners.get(id).add(listener);
      return () => store.listeners.get(id).delete(listener);
    },
    () => store.faces[id],
  );
}
