// The inbox view (placeholder until it is built).
import { el } from "./api.js";

export function mount(section, ctx) {
  section.append(el("p", { text: "inbox" }));
  return { show() {} };
}
