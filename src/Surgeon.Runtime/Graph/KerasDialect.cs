namespace Surgeon;

/// <summary>Which Keras generation's configuration style a model is written in.</summary>
public enum KerasDialect
{
    /// <summary>Keras 1: <c>[[name, node, tensor], ...]</c>.</summary>
    Keras1,
    /// <summary>Keras 2 / tf.keras / tfjs: <c>[[name, node, tensor, {kwargs}], ...]</c>.</summary>
    Keras2,
    /// <summary>Keras 3: <c>{"args": [...], "kwargs": {...}}</c> with <c>__keras_tensor__</c> objects.</summary>
    Keras3,
}
