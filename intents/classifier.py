"""IntentClassifier: calibrated intent probabilities from jieba words, character n-grams and sentence embeddings."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from intents.labels import INTENTS
from intents.neighbours import Similarities
from intents.normalize import normalize

if TYPE_CHECKING:
    from intents.encoder import Encoder
    from intents.segment import Segmenter


class Document(NamedTuple):
    """A message as the classifiers see it: normalised text, its jieba tokens, its sentence vector.

    The service builds each message's document once (the tokens are part of
    the response, the vector serves ranking too) and hands it to every
    classifier, so nothing is segmented or embedded twice and the fitted model
    carries neither a jieba dictionary nor an encoder inside its pickle.
    """

    text: str
    tokens: tuple[str, ...]
    vector: np.ndarray | None = None


# The sentence embedding reads a message's first characters only: its cost grows faster than
# linearly with length (2,000 characters take over a second), shop messages say what they want
# early, and the word and character n-gram features still see the whole text.
EMBED_MAX_CHARS = 256


def make_documents(
    messages: Sequence[str], segmenter: "Segmenter", encoder: "Encoder | None", also: Sequence[tuple[str, bool]] = ()
) -> list[Document]:
    """Normalise, segment and (in one batch) embed raw messages. `also`: (text, passage) pairs a caching encoder
    embeds in the same call, for a later call to find (their vectors are not returned)."""
    texts = [normalize(m) for m in messages]
    embedding = [t[:EMBED_MAX_CHARS] for t in texts]
    pending = None
    if encoder is not None and hasattr(encoder, "submit"):  # the segmenting is done while the encoder works
        extra = list(also)
        submitted = encoder.submit(embedding + [t for t, _ in extra], [False] * len(embedding) + [p for _, p in extra])
        pending = (lambda: submitted()[: len(embedding)]) if extra else submitted
    elif encoder is not None:
        pending = lambda v=encoder.encode(embedding): v  # noqa: E731
    tokens = [tuple(segmenter(text)) for text in texts]
    vectors = pending() if pending is not None else [None] * len(texts)
    return [Document(text, words, vector) for text, words, vector in zip(texts, tokens, vectors)]


def _digit_shape(token: str) -> str:
    # 165, 110, 38 carry their meaning by position (height, weight, size), not
    # value: one shape per length keeps "165" and "170" the same feature.
    return "<num%d>" % min(len(token), 5) if token.isdigit() and token != "12315" else token


def word_features(doc: Document) -> list[str]:
    """Lower-cased words and word bigrams, numbers folded to their length."""
    words = [_digit_shape(tok.lower()) for tok in doc.tokens]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def char_text(doc: Document) -> str:
    """The text the character n-grams are taken from."""
    return doc.text.lower()


class VectorFeatures(TransformerMixin, BaseEstimator):
    """The documents' sentence vectors, scaled by `weight`, as a sparse block beside the n-grams."""

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, docs: Sequence[Document], y=None) -> "VectorFeatures":
        self.dim_ = self._stack(docs).shape[1]
        return self

    def transform(self, docs: Sequence[Document]):
        matrix = self._stack(docs)
        if matrix.shape[1] != self.dim_:
            raise ValueError(f"sentence vectors have {matrix.shape[1]} dimensions; the model was fitted on {self.dim_}")
        return sparse.csr_matrix(matrix * self.weight)

    @staticmethod
    def _stack(docs: Sequence[Document]) -> np.ndarray:
        if any(doc.vector is None for doc in docs):
            raise ValueError("documents need sentence vectors for this model (build them with an encoder)")
        return np.vstack([doc.vector for doc in docs])


class _TfidfBlock:
    """One fitted TfidfVectorizer (sublinear tf, l2 norm) applied to a single document."""

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray):
        if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf and vectorizer.binary is False):
            raise ValueError("the fast path reproduces sublinear, idf-weighted, l2-normalised TF-IDF only")
        self.analyzer = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.coef = np.ascontiguousarray(coef.T)  # (features, classes): the rows a document touches

    def row(self, doc) -> tuple[np.ndarray, np.ndarray]:
        """(feature indices, TF-IDF values) of `doc`, as `vectorizer.transform([doc])` gives them."""
        counts = Counter(j for j in map(self.vocabulary.get, self.analyzer(doc)) if j is not None)
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        values = (np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1.0) * self.idf[idx]
        return idx, values / np.sqrt(values @ values)

    def scores(self, doc) -> np.ndarray:
        idx, values = self.row(doc)
        return values @ self.coef[idx]


class _LinearScorer:
    """The fitted Pipeline's `predict_proba` (TF-IDF blocks + sentence vector → LinearSVC →
    sigmoid calibration), computed directly. sklearn's path re-validates its inputs at every
    step (FeatureUnion, check_array, dataframe detection), which costs a request several
    milliseconds of GIL time for a few hundred multiplications; a test checks that both agree."""

    def __init__(self, pipeline: Pipeline):
        union, model = pipeline.named_steps["features"], pipeline.named_steps["model"]
        if union.transformer_weights or len(model.calibrated_classifiers_) != 1 or model.method != "sigmoid":
            raise ValueError("the fast path reproduces one sigmoid-calibrated SVM over an unweighted FeatureUnion only")
        calibrated = model.calibrated_classifiers_[0]
        svm = calibrated.estimator
        # The blocks read columns of the weights: copies, unless the weights are column-major (as
        # IntentClassifier.prepare leaves them), when each block is a view of them.
        coef = svm.coef_
        self.blocks: list[tuple[str, object]] = []
        start = 0
        for name, part in union.transformer_list:
            if isinstance(part, TfidfVectorizer):
                width = len(part.vocabulary_)
                self.blocks.append(("tfidf", _TfidfBlock(part, coef[:, start:start + width])))
            else:
                width = part.dim_
                self.blocks.append(("vector", (part.weight, np.ascontiguousarray(coef[:, start:start + width].T))))
            start += width
        if start != coef.shape[1]:
            raise ValueError(f"the features add up to {start} columns; the SVM has {coef.shape[1]}")
        self.intercept = np.asarray(svm.intercept_, dtype=np.float64)
        self.a = np.array([c.a_ for c in calibrated.calibrators], dtype=np.float64)
        self.b = np.array([c.b_ for c in calibrated.calibrators], dtype=np.float64)
        classes = list(calibrated.classes)
        self.columns = np.array([classes.index(c) for c in svm.classes_])  # calibrator k → probability column
        self.n_classes = len(classes)
        if self.n_classes < 3 or coef.shape[0] != self.n_classes:
            raise ValueError("the fast path reproduces the multi-class (one-vs-rest) case only")

    def word_row(self, doc) -> tuple[np.ndarray, np.ndarray]:
        return self.blocks[0][1].row(doc)

    def predict_proba(self, docs: Sequence["Document"]) -> np.ndarray:
        decision = np.tile(self.intercept, (len(docs), 1))
        for i, doc in enumerate(docs):
            for kind, block in self.blocks:
                if kind == "tfidf":
                    decision[i] += block.scores(doc)
                else:
                    weight, coef = block
                    if doc.vector is None:
                        raise ValueError("documents need sentence vectors for this model (build them with an encoder)")
                    if len(doc.vector) != coef.shape[0]:
                        raise ValueError(
                            f"sentence vectors have {len(doc.vector)} dimensions; the model was fitted on {coef.shape[0]}"
                        )
                    decision[i] += (np.asarray(doc.vector, dtype=np.float64) * weight) @ coef
        proba = np.zeros((len(docs), self.n_classes))
        proba[:, self.columns] = expit(-(self.a * decision + self.b))
        total = proba.sum(axis=1, keepdims=True)
        proba = np.divide(proba, total, out=np.full_like(proba, 1 / self.n_classes), where=total != 0)
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


class IntentClassifier(ClassifierMixin, BaseEstimator):
    """Intent classifier returning every intent with a calibrated confidence.

    A linear SVM over TF-IDF features of jieba words (with bigrams) and
    character 1–2-grams, plus the message's sentence embedding when
    `embedding_weight` > 0; sigmoid calibration turns its scores into
    probabilities over the intents. When `neighbors_weight` > 0 those
    probabilities are blended with a vote of the nearest labelled examples by
    sentence embedding, which catches paraphrases that share no n-gram with
    the training data. The same model, given the psychology ids as `classes`,
    reads the customer's psychology. A record with two intents ("质量太差了 我要退货") is
    learnt once under each, so both rank high.
    """

    def __init__(
        self,
        C: float = 1.0,
        char_ngram_max: int = 2,
        embedding_weight: float = 1.0,
        neighbors_weight: float = 0.4,
        n_neighbors: int = 10,
        calibration_folds: int = 3,
        classes: tuple[str, ...] = INTENTS,
    ):
        self.C = C
        self.char_ngram_max = char_ngram_max
        self.embedding_weight = embedding_weight
        self.neighbors_weight = neighbors_weight
        self.n_neighbors = n_neighbors
        self.calibration_folds = calibration_folds
        self.classes = classes

    def _build(self, calibration_folds: int) -> Pipeline:
        parts = [
            ("words", TfidfVectorizer(analyzer=word_features, sublinear_tf=True)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", preprocessor=char_text, ngram_range=(1, self.char_ngram_max), sublinear_tf=True
                ),
            ),
        ]
        if self.embedding_weight > 0:
            parts.append(("embedding", VectorFeatures(self.embedding_weight)))
        svm = LinearSVC(C=self.C, class_weight="balanced", random_state=0)
        # ensemble=False: one SVM fitted on all the data, calibrated on
        # cross-validated scores (better than averaging SVMs fitted on 2/3).
        model = CalibratedClassifierCV(svm, method="sigmoid", cv=calibration_folds, ensemble=False)
        return Pipeline([("features", FeatureUnion(parts)), ("model", model)])

    @property
    def needs_vectors(self) -> bool:
        return self.embedding_weight > 0 or self.neighbors_weight > 0

    def fit(self, docs: Sequence[Document], label_sets: Sequence[Sequence[str]]) -> "IntentClassifier":
        unknown = {label for labels in label_sets for label in labels} - set(self.classes)
        if unknown:
            raise ValueError(f"unknown label ids: {sorted(unknown)}")
        # Every label of a record becomes one training row.
        rows = [(doc, label) for doc, labels in zip(docs, label_sets) for label in labels]
        row_docs, row_labels = [doc for doc, _ in rows], [label for _, label in rows]
        rarest, count = min(Counter(row_labels).items(), key=lambda item: item[1])
        if count < 2:
            raise ValueError(f"every label in the training data needs at least 2 examples; {rarest!r} has {count}")
        for derived in ("_word_names_cache", "_neighbors_cache", "_linear_cache", "_columns_cache"):
            self.__dict__.pop(derived, None)
        self.pipeline_ = self._build(min(self.calibration_folds, count)).fit(row_docs, row_labels)
        self.neighbors_ = None
        if self.neighbors_weight > 0:
            self.neighbors_ = KNeighborsClassifier(
                n_neighbors=min(self.n_neighbors, len(rows)), metric="cosine", weights="distance"
            ).fit(VectorFeatures._stack(row_docs), row_labels)
        self.classes_ = np.array(self.classes)
        return self

    def _in_contract_order(self, probs: np.ndarray, fitted: Sequence[str]) -> np.ndarray:
        # Report all classes in the contract's order, even one absent from the data. The column of each
        # fitted label is worked out once per array of labels (hundreds of knowledge points: list.index per
        # label per call cost milliseconds a request, and hashing them as a tuple 0.1 ms). The callers pass
        # the fitted models' own `classes_`, the same arrays every time; the entry keeps its array, so an id
        # is never taken for another array's.
        cache = self.__dict__.setdefault("_columns_cache", {})
        held, columns = cache.get(id(fitted), (None, None))
        if held is not fitted:
            where = {label: i for i, label in enumerate(self.classes_)}
            columns = np.array([where[label] for label in fitted], dtype=np.intp)
            cache[id(fitted)] = (fitted, columns)
        out = np.zeros((probs.shape[0], len(self.classes_)))
        out[:, columns] = probs
        return out

    def predict_proba(self, docs: Sequence[Document]) -> np.ndarray:
        """Shape (n, intents): the confidence of each intent, columns in `classes_` order."""
        docs = list(docs)
        probs = self._in_contract_order(self._linear().predict_proba(docs), self.pipeline_.classes_)
        if self.neighbors_ is not None:
            vectors = VectorFeatures._stack(docs)
            votes = self._in_contract_order(self._neighbor_votes(vectors), self.neighbors_.classes_)
            # A zero vector (no encoder: degraded mode) has no neighbours; the linear model decides alone.
            share = np.where(np.abs(vectors).sum(axis=1, keepdims=True) > 0, self.neighbors_weight, 0.0)
            probs = (1 - share) * probs + share * votes
        return probs

    def predict(self, docs: Sequence[Document]) -> np.ndarray:
        """The most likely intent of each document."""
        return self.classes_[self.predict_proba(docs).argmax(axis=1)]

    def explain(self, doc: Document, label: str, top: int = 3, min_weight: float = 0.1) -> list[tuple[str, int]]:
        """The words of `doc` that push the linear model most towards `label`, as (token, offset in doc.text).

        A word's push is its TF-IDF value times the SVM's weight for it; only
        words of two or more characters with a clear positive push are
        returned, strongest first.
        """
        words: TfidfVectorizer = self.pipeline_.named_steps["features"].transformer_list[0][1]
        svm = self.pipeline_.named_steps["model"].calibrated_classifiers_[0].estimator
        classes = list(svm.classes_)
        if label not in classes or svm.coef_.shape[0] != len(classes):
            return []
        coef = svm.coef_[classes.index(label)]
        names = self._word_names(words)
        push = {names[j]: value * coef[j] for j, value in zip(*self._linear().word_row(doc)) if " " not in names[j]}
        found: list[tuple[float, str, int]] = []
        offset, seen = 0, set()
        for token in doc.tokens:
            start = doc.text.find(token, offset)
            if start < 0:
                continue
            offset = start + len(token)
            weight = push.get(_digit_shape(token.lower()), 0.0)
            # Single characters (点, 到, 更) are too vague to show an agent as evidence.
            if weight >= min_weight and len(token.strip()) >= 2 and token not in seen:
                seen.add(token)
                found.append((weight, token, start))
        found.sort(key=lambda item: -item[0])
        return [(token, start) for _, token, start in found[:top]]

    def _neighbor_votes(self, vectors: np.ndarray) -> np.ndarray:
        """What `neighbors_.predict_proba` returns (cosine distance, votes weighted by 1/distance), from the
        exact similarities of the rows that can be among the nearest (`intents.neighbours`): sklearn's general
        path spends milliseconds per message on checks and chunking that a request cannot afford."""
        cache = self.__dict__.get("_neighbors_cache")
        if cache is None:
            fitted = np.asarray(self.neighbors_._fit_X, dtype=np.float32)
            norms = np.linalg.norm(fitted, axis=1, keepdims=True)
            rows = fitted / np.maximum(norms, 1e-12)
            cache = self.__dict__["_neighbors_cache"] = (
                Similarities(rows, self.neighbors_.n_neighbors), np.asarray(self.neighbors_._y)
            )
        similarities, labels = cache
        queries = np.asarray(vectors, dtype=np.float32)
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        k = self.neighbors_.n_neighbors
        classes = len(self.neighbors_.classes_)
        out = np.empty((len(queries), classes))
        for row, query in enumerate(queries):
            near, scores = similarities(query)  # in row order
            chosen = np.argpartition(-scores, k - 1)[:k]
            # Twin rows (one text, two labels) can tie for the k-th place; argpartition's pick among them
            # turns on rounding elsewhere in the row, so the lowest-numbered rows are taken, every time.
            kth = scores[chosen].min()
            if np.count_nonzero(scores == kth) > np.count_nonzero(scores[chosen] == kth):
                above = np.flatnonzero(scores > kth)
                chosen = np.concatenate([above, np.flatnonzero(scores == kth)[: k - len(above)]])
            distance = (1.0 - scores[chosen]).astype(np.float64)
            # A training text identical to the message (float32 rounding leaves ~1e-7) takes the whole
            # vote, shared equally with its twins (a record with two intents is two rows), as sklearn
            # does for a distance of exactly 0 — rounding noise must not decide between the twins.
            same = distance < 1e-6
            weight = same.astype(np.float64) if same.any() else 1.0 / np.maximum(distance, 1e-6)
            votes = np.bincount(labels[near[chosen]], weights=weight, minlength=classes)
            out[row] = votes / votes.sum()
        return out

    def prepare(self) -> "IntentClassifier":
        """Ready a loaded model for serving, holding one copy of its arrays: the SVM's weights in single
        precision and column-major, so that the linear scorer's blocks are views of them (the knowledge
        model's are 274 × 53,000: 116 MB in double; a score moves by about 1e-7, and sklearn's own path
        reads the same weights), and the neighbours' training vectors replaced by their normalised copy,
        which the vote reads (the cosine distance does not see a vector's length). Both are built now,
        not at the first request. A model being trained is left as fitted: this is for loading."""
        svm = self.pipeline_.named_steps["model"].calibrated_classifiers_[0].estimator
        svm.coef_ = np.asfortranarray(svm.coef_, dtype=np.float32)
        self.__dict__.pop("_linear_cache", None)
        self._linear()
        if self.neighbors_ is not None:
            self._neighbor_votes(np.zeros((1, self.neighbors_._fit_X.shape[1]), dtype=np.float32))
            self.neighbors_._fit_X = self.__dict__["_neighbors_cache"][0].rows  # one float32 copy of the vectors
        return self

    def _linear(self) -> _LinearScorer:
        scorer = self.__dict__.get("_linear_cache")
        if scorer is None:
            scorer = self.__dict__["_linear_cache"] = _LinearScorer(self.pipeline_)
        return scorer

    def _word_names(self, words: TfidfVectorizer) -> np.ndarray:
        # get_feature_names_out sorts the whole vocabulary on every call: keep it once per model.
        names = self.__dict__.get("_word_names_cache")
        if names is None:
            names = self.__dict__["_word_names_cache"] = words.get_feature_names_out()
        return names

    def __getstate__(self):
        state = super().__getstate__()
        for derived in ("_word_names_cache", "_neighbors_cache", "_linear_cache", "_columns_cache"):  # rebuilt on first use; not part of the model file
            state.pop(derived, None)
        return state

    def rank(self, docs: Sequence[Document]) -> list[list[tuple[str, float]]]:
        """For each document, every intent with its confidence, best first."""
        probs = self.predict_proba(docs)
        order = np.argsort(-probs, axis=1, kind="stable")
        return [[(str(self.classes_[j]), float(row[j])) for j in idx] for row, idx in zip(probs, order)]
