/** A node of the due-time heap: `gen` tells a live node from a stale one (lazy deletion). */
export interface HeapNode {
  at: number;
  id: string;
  gen: number;
}

/** Binary min-heap of HeapNode by `at`. push/pop O(log n), peek O(1). */
export class MinHeap {
  private a: HeapNode[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): HeapNode | undefined {
    return this.a[0];
  }

  push(node: HeapNode): void {
    const a = this.a;
    a.push(node);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (parent.at <= node.at) break;
      a[i] = parent;
      i = p;
    }
    a[i] = node;
  }

  pop(): HeapNode | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (last !== undefined && a.length > 0) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Replace the content at once (O(n) heapify), e.g. to drop stale nodes. */
  rebuild(nodes: HeapNode[]): void {
    this.a = nodes;
    for (let i = (nodes.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(i: number): void {
    const a = this.a;
    const n = a.length;
    const node = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.at < a[l]!.at ? r : l;
      const child = a[c]!;
      if (child.at >= node.at) break;
      a[i] = child;
      i = c;
    }
    a[i] = node;
  }
}
