/* evoforge dashboard: the program page's code, for one file or a folder of files.
 *
 * A multi-file program arrives already split by the server (`files`: path, text, status against
 * the parent, the file's own diff), so the page never parses the bundle format itself. It shows
 * a tree of the files (changed ones marked, unchanged ones dimmed); clicking a file shows its
 * text and its diff against the parent's file. Paths and texts are untrusted (a model wrote
 * them): they go into text nodes and attributes only, never into HTML.
 */
"use strict";

const FILE_MARK = { modified: "M", added: "A", removed: "D", unchanged: "", initial: "" };

/** [{name, path, file, children}] from flat paths: folders first, then files, each sorted. */
function fileTree(files) {
  const root = { children: new Map() };
  for (const f of files) {
    const parts = f.path.split("/");
    let node = root;
    parts.forEach((name, i) => {
      const key = (i === parts.length - 1 ? "f:" : "d:") + name;
      if (!node.children.has(key)) node.children.set(key, { name, path: parts.slice(0, i + 1).join("/"), file: i === parts.length - 1 ? f : null, children: new Map() });
      node = node.children.get(key);
    });
  }
  const order = (m) => Array.from(m.values()).sort((a, b) => (!!a.file - !!b.file) || a.name.localeCompare(b.name));
  const walk = (node) => order(node.children).map((c) => ({ name: c.name, path: c.path, file: c.file, children: c.file ? [] : walk(c) }));
  return walk(root);
}

function fileSummary(files) {
  const n = (s) => files.filter((f) => f.status === s).length;
  if (files.every((f) => f.status === "initial")) return `${files.length} files (no parent program to compare with)`;
  return `${files.length} files: ${n("modified")} modified, ${n("added")} added, ${n("removed")} removed, ${n("unchanged")} unchanged`;
}

/** The file pane: one file's text and its diff against the parent's file. */
function fileView(f) {
  const noDiff = { unchanged: "(unchanged: identical to the parent's file)", initial: "(no parent program to compare with)" };
  return [
    h("h3", { id: "file-title", class: "file-title" }, f.path, " ", h("span", { class: "file-status st-" + f.status }, f.status)),
    f.text === null ? h("div", { class: "empty-note", id: "file-code" }, "(removed: this program no longer has this file)")
      : codeBlock("file-code", f.text || "\n"),
    h("h3", { class: "file-title" }, "Diff against the parent's file"),
    f.diff ? diffBlock("file-diff", f.diff) : h("div", { class: "empty-note", id: "file-diff" }, noDiff[f.status] || "(no diff)"),
  ];
}

function filesPanel(a) {
  const files = a.files;
  const first = ["modified", "added", "removed"].map((st) => files.find((f) => f.status === st)).find(Boolean) || files[0];
  const pane = h("div", { class: "file-pane", id: "file-pane" });
  const buttons = [];
  const choose = (path) => {
    const f = files.find((x) => x.path === path);
    pane.replaceChildren(...fileView(f));
    for (const b of buttons) b.classList.toggle("selected", b.dataset.path === path);
  };
  const list = (nodes) => h("ul", {}, nodes.map((n) => {
    if (!n.file) return h("li", { class: "folder" }, h("span", { class: "folder-name" }, n.name + "/"), list(n.children));
    const f = n.file;
    const b = h("button", { type: "button", class: "file-entry st-" + f.status + (f.changed ? " changed" : ""),
      dataset: { path: f.path, status: f.status }, title: `${f.path} (${f.status}, ${f.lines} lines)`, onclick: () => choose(f.path) },
    h("span", { class: "file-mark" }, FILE_MARK[f.status] || ""), n.name, f.status === "unchanged" ? h("span", { class: "file-note" }, " unchanged") : null);
    buttons.push(b);
    return h("li", { class: "file" }, b);
  }));
  const tree = h("nav", { class: "file-tree", id: "file-tree", "aria-label": "files" }, list(fileTree(files)));
  choose(first.path);
  return panel(`Files (${fileSummary(files)})`, h("div", { class: "files-layout" }, tree, pane));
}

/** The program page's code panels: code + diff for one file; the file tree + the whole diff for a folder. */
function programPanels(a) {
  if (!a.files || !a.files.length) {
    return [
      a.files_error ? panel("This multi-file program cannot be split into its files", textBlock("files-error", a.files_error, "warn")) : null,
      panel("Code", codeBlock("attempt-code", a.code)),
      panel("Diff against parent", diffBlock("attempt-diff", a.diff)),
    ];
  }
  return [filesPanel(a), panel(null, fold("Diff of every changed file", diffBlock("attempt-diff", a.diff), false))];
}
