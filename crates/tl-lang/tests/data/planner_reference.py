"""Reference results for the planner tests, computed with numpy (einsum and friends).

Run from this folder:  python3 planner_reference.py
It writes planner_reference.json: for each case, a TensorLogic program, the shapes and
values of its inputs (seeded random numbers), and numpy's value of the target tensor.
The Rust test plans the program, runs the plan on f64 host arrays and compares.
"""

import json

import numpy as np

rng = np.random.default_rng(20250101)


def rand(*shape):
    return rng.standard_normal(shape)


def relation(n):
    return (rng.random((n, n)) < 0.35).astype(np.float64)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def shift_read(x, axis, offset, length):
    """out[t] = x[t + offset] along axis, zero outside x."""
    out = np.zeros(x.shape[:axis] + (length,) + x.shape[axis + 1:])
    for t in range(length):
        s = t + offset
        if 0 <= s < x.shape[axis]:
            index_out = [slice(None)] * x.ndim
            index_in = [slice(None)] * x.ndim
            index_out[axis] = t
            index_in[axis] = s
            out[tuple(index_out)] = x[tuple(index_in)]
    return out


cases = []


def case(name, program, inputs, target, expected):
    cases.append(
        {
            "name": name,
            "program": program,
            "shapes": {k: list(np.shape(v)) for k, v in inputs.items()},
            "inputs": {k: np.asarray(v, dtype=np.float64).ravel().tolist() for k, v in inputs.items()},
            "target": target,
            "expected_shape": list(np.shape(expected)),
            "expected": np.asarray(expected, dtype=np.float64).ravel().tolist(),
        }
    )


W1, X, B1 = rand(4, 3), rand(5, 3), rand(4)
case("mlp_layer", "H[b, o] = relu(W1[o, i] X[b, i] + B1[o])", {"W1": W1, "X": X, "B1": B1}, "H",
     np.maximum(np.einsum("oi,bi->bo", W1, X) + B1, 0))

Q, K = rand(2, 3, 5, 8), rand(2, 3, 5, 8)
case("attention_scores", "Comp[b, h, p, p'.] = softmax(Q[b, h, p, k] K[b, h, p', k] / sqrt(8))",
     {"Q": Q, "K": K}, "Comp", softmax(np.einsum("bhpk,bhqk->bhpq", Q, K) / np.sqrt(8), axis=-1))

Comp, V = softmax(rand(2, 3, 5, 5), -1), rand(2, 3, 5, 4)
case("attention_values", "Attn[b, h, p, d] = Comp[b, h, p, p'] V[b, h, p', d]", {"Comp": Comp, "V": V}, "Attn",
     np.einsum("bhpq,bhqd->bhpd", Comp, V))

A, B, C = rand(6, 7), rand(7, 8), rand(8, 2)
case("three_tensor_chain", "Chain[a, d] = A[a, b] B[b, c] C[c, d]", {"A": A, "B": B, "C": C}, "Chain",
     np.einsum("ab,bc,cd->ad", A, B, C))

W, Xv = rand(7), rand(7)
case("dot_product", "Y = W[i] X[i]", {"W": W, "X": Xv}, "Y", np.einsum("i,i->", W, Xv))
case("elementwise_product", "Y[i] = W[i] X[i]", {"W": W, "X": Xv}, "Y", np.einsum("i,i->i", W, Xv))

M = rand(5, 5)
case("trace", "Y = A[i, i]", {"A": M}, "Y", np.einsum("ii->", M))
case("diagonal", "D[i] = A[i, i]", {"A": M}, "D", np.einsum("ii->i", M))

T3 = rand(3, 4, 4)
case("batched_diagonal", "D[b, i] = A[b, i, i]", {"A": T3}, "D", np.einsum("bii->bi", T3))

F = rand(4, 6)
case("max_pooling", "Pool[x/2, y/2] max= F[x, y]", {"F": F}, "Pool", F.reshape(2, 2, 3, 2).max(axis=(1, 3)))
case("sum_pooling", "Pool[x/2, y/3] = F[x, y]", {"F": F}, "Pool", F.reshape(2, 2, 2, 3).sum(axis=(1, 3)))

Anc, Par = relation(5), relation(5)
case("datalog_rule", "Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).", {"Ancestor": Anc, "Parent": Par},
     "Ancestor", (np.einsum("xy,yz->xz", Anc, Par) > 0).astype(np.float64))

Sis = relation(5)
case("datalog_as_equation", "Aunt[x, z] = step(Sister[x, y] Parent[y, z])", {"Sister": Sis, "Parent": Par},
     "Aunt", (np.einsum("xy,yz->xz", Sis, Par) > 0).astype(np.float64))

Yp, Tt = rand(6, 3), rand(6, 3)
case("mean_squared_error", "Loss avg= (Y[n, o] - T[n, o])^2", {"Y": Yp, "T": Tt}, "Loss", ((Yp - Tt) ** 2).mean())

Wr, Xr, Ur, In = rand(3, 3), rand(3, 5), rand(3, 2), rand(2, 5)
R = np.tanh(Wr @ Xr + Ur @ In)
case("recurrence_shift", "X[i, t+1] = tanh(W[i, j] X[j, t] + U[i, k] In[k, t])",
     {"W": Wr, "X": Xr, "U": Ur, "In": In}, "X", shift_read(R, 1, -1, 5))

S = rand(6)
case("finite_difference", "Diff[t] = S[t+1] - S[t]", {"S": S}, "Diff", shift_read(S, 0, 1, 6) - S)

Xd = rand(4)
case("diagonal_write", "D[i, i] = X[i]", {"X": Xd}, "D", np.diag(Xd))

Xb, Yb = rand(3), rand(3, 4)
case("broadcast_left_only_index", "Y[i, j] = X[i]", {"X": Xb, "Y": Yb}, "Y", np.repeat(Xb[:, None], 4, axis=1))

Ad, Bd = rand(3, 5), rand(5) ** 2 + 0.5
case("division_factor", "Y[i] = A[i, j] / B[j]", {"A": Ad, "B": Bd}, "Y", np.einsum("ij,j->i", Ad, 1 / Bd))

Am, Bm = rand(3, 4), rand(4, 2)
case("max_product", "M[i, k] max= A[i, j] B[j, k]", {"A": Am, "B": Bm}, "M", (Am[:, :, None] * Bm[None, :, :]).max(axis=1))
case("mean_product", "M[i] avg= A[i, j] B[j, k]", {"A": Am, "B": Bm}, "M", (Am[:, :, None] * Bm[None, :, :]).mean(axis=(1, 2)))

Xn, G = rand(3, 8), rand(8)
case("rms_norm", "N[p, d.] = rms_norm(X[p, d], G[d], eps: 1e-6)", {"X": Xn, "G": G}, "N",
     Xn / np.sqrt((Xn ** 2).mean(axis=1, keepdims=True) + 1e-6) * G)

Xt = rand(4, 3)
case("log_softmax_first_axis", "L[i., j] = log_softmax(X[i, j])", {"X": Xt}, "L", log_softmax(Xt, 0))

P = rand(3)
case("upsampling", "Up[x] = P[x/2]", {"P": P}, "Up", np.repeat(P, 2))

Yu, Xu = rand(3, 4), rand(4)
expected = Yu.copy()
expected[1] = Xu
case("partial_update", "Y[1, j] = X[j]", {"Y": Yu, "X": Xu}, "Y", expected)

Ya, Ca = rand(4), rand(4)
case("accumulate", "Y[i] += 2 C[i] - 1", {"Y": Ya, "C": Ca}, "Y", Ya + 2 * Ca - 1)

Vw = rand(5, 3)
case("slice", "Part = V[1:3]", {"V": Vw}, "Part", Vw[1:3])
case("select_row", "Row = V[2]", {"V": Vw}, "Row", Vw[2])
case("whole_softmax", "S = softmax(V) * 2 + 1", {"V": Vw}, "S", softmax(Vw, -1) * 2 + 1)
case("literal", "L = [[1, 2], [3, -4.5]]", {}, "L", np.array([[1, 2], [3, -4.5]]))

Hg, Hu = rand(3, 6), rand(3, 6)
case("swiglu", "H[p, f] = silu(G[p, f]) U[p, f]", {"G": Hg, "U": Hu}, "H", Hg / (1 + np.exp(-Hg)) * Hu)

E4 = rand(2, 3, 4)
case("outer_and_transpose", "O[k, j, i] = E[i, j, k] + E[i, j, k] * 0.5", {"E": E4}, "O",
     np.transpose(E4 * 1.5, (2, 1, 0)))

Ab, Bb, Cb = rand(2, 3, 4), rand(2, 4, 5), rand(5, 2)
case("batched_chain", "Y[b, i, m] = A[b, i, j] B[b, j, k] C[k, m]", {"A": Ab, "B": Bb, "C": Cb}, "Y",
     np.einsum("bij,bjk,km->bim", Ab, Bb, Cb))

case("tensor_query", "V[1, j]?", {"V": Vw}, "V?", Vw[1])
case("whole_tensor_query", "V?", {"V": Vw}, "V?", Vw)

Rel = relation(5)
Rel[1, 0] = Rel[1, 4] = 1  # several witnesses, so that "exists" differs from "count"
symbols = "domain D = {A0, A1, A2, A3, A4}\nParent(A0, A1).\n"
case("datalog_query", symbols + "Parent(A1, z)?", {"Parent": Rel}, "Parent?", Rel[1])
case("datalog_query_wildcard", symbols + "Parent(A1, _)?", {"Parent": Rel}, "Parent?",
     (Rel[1].sum() > 0).astype(np.float64))
case("datalog_rule_with_constant", symbols + "Likes(A2, y) <- Parent(y, A3).", {"Parent": Rel, "Likes": np.zeros((5, 5))},
     "Likes", np.stack([Rel[:, 3] if r == 2 else np.zeros(5) for r in range(5)]))

Xc = rand(4)
case("comparison_and_max", "Y[i] = max(X[i], 0.5) + (X[i] > 0)", {"X": Xc}, "Y", np.maximum(Xc, 0.5) + (Xc > 0))

with open("planner_reference.json", "w") as f:
    json.dump({"generator": "planner_reference.py (numpy " + np.__version__ + ")", "cases": cases}, f, indent=1)
print(len(cases), "cases")
