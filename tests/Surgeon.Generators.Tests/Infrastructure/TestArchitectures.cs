namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>Small architectures written in code for focused tests (style-anchors section 8.1).</summary>
public static class TestArchitectures
{
    /// <summary>A Keras 2 Sequential: dense_1 (Dense 16) -> dropout_1 -> dense_2 (Dense 4), input (None, 8).</summary>
    public const string Dense3 = """
        {"class_name": "Sequential", "keras_version": "2.2.4", "config": {"name": "dense3", "layers": [
          {"class_name": "Dense", "config": {"name": "dense_1", "units": 16, "activation": "relu", "use_bias": true, "batch_input_shape": [null, 8]}},
          {"class_name": "Dropout", "config": {"name": "dropout_1", "rate": 0.5}},
          {"class_name": "Dense", "config": {"name": "dense_2", "units": 4, "activation": "softmax", "use_bias": true}}
        ]}}
        """;

    /// <summary>A Keras 2 Functional LeNet: two Conv2D, pooling, Flatten, two Dense; input (None, 28, 28, 1).</summary>
    public const string LeNet = """
        {"class_name": "Model", "keras_version": "2.2.4", "config": {"name": "lenet", "layers": [
          {"name": "input_1", "class_name": "InputLayer", "config": {"name": "input_1", "batch_input_shape": [null, 28, 28, 1]}, "inbound_nodes": []},
          {"name": "conv2d_1", "class_name": "Conv2D", "config": {"name": "conv2d_1", "filters": 6, "kernel_size": [5, 5], "padding": "valid", "use_bias": true},
           "inbound_nodes": [[["input_1", 0, 0, {}]]]},
          {"name": "max_pooling2d_1", "class_name": "MaxPooling2D", "config": {"name": "max_pooling2d_1", "pool_size": [2, 2]},
           "inbound_nodes": [[["conv2d_1", 0, 0, {}]]]},
          {"name": "conv2d_2", "class_name": "Conv2D", "config": {"name": "conv2d_2", "filters": 16, "kernel_size": [5, 5], "padding": "valid", "use_bias": true},
           "inbound_nodes": [[["max_pooling2d_1", 0, 0, {}]]]},
          {"name": "flatten_1", "class_name": "Flatten", "config": {"name": "flatten_1"}, "inbound_nodes": [[["conv2d_2", 0, 0, {}]]]},
          {"name": "dense_1", "class_name": "Dense", "config": {"name": "dense_1", "units": 120, "use_bias": true}, "inbound_nodes": [[["flatten_1", 0, 0, {}]]]},
          {"name": "dense_2", "class_name": "Dense", "config": {"name": "dense_2", "units": 10, "use_bias": true}, "inbound_nodes": [[["dense_1", 0, 0, {}]]]}
        ], "input_layers": [["input_1", 0, 0]], "output_layers": [["dense_2", 0, 0]]}}
        """;

    /// <summary>A Keras 3 Functional branch: input -> a, b (Dense) -> Concatenate -> out; nodes as args/kwargs.</summary>
    public const string Branch = """
        {"class_name": "Functional", "config": {"name": "branch", "layers": [
          {"name": "x", "class_name": "InputLayer", "config": {"name": "x", "batch_shape": [null, 4]}, "inbound_nodes": []},
          {"name": "a", "class_name": "Dense", "config": {"name": "a", "units": 3}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
          {"name": "b", "class_name": "Dense", "config": {"name": "b", "units": 5}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
          {"name": "concat", "class_name": "Concatenate", "config": {"name": "concat", "axis": -1}, "inbound_nodes": [{"args": [[
              {"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}},
              {"class_name": "__keras_tensor__", "config": {"keras_history": ["b", 0, 0]}}]], "kwargs": {}}]},
          {"name": "out", "class_name": "Dense", "config": {"name": "out", "units": 2}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["concat", 0, 0]}}], "kwargs": {}}]}
        ], "input_layers": ["x", 0, 0], "output_layers": ["out", 0, 0]}}
        """;
}
