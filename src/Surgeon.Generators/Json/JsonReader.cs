using System;
using System.Globalization;
using System.Text;

namespace Surgeon.Generators.Json;

/// <summary>The JSON text is malformed; <see cref="Line"/> and <see cref="Column"/> (from 1) say where.</summary>
internal sealed class JsonReadException : Exception
{
    public JsonReadException(string problem, int line, int column)
        : base(string.Format(CultureInfo.InvariantCulture, "{0} (line {1}, column {2})", problem, line, column))
    {
        Problem = problem;
        Line = line;
        Column = column;
    }

    public string Problem { get; }

    public int Line { get; }

    public int Column { get; }
}

/// <summary>
/// A small strict JSON reader (RFC 8259) that also accepts Python's <c>NaN</c>, <c>Infinity</c> and
/// <c>-Infinity</c>, which <c>json.dumps</c> writes and Keras configs may hold. Nesting is limited to 256 levels.
/// </summary>
internal sealed class JsonReader
{
    private const int MaxDepth = 256;
    private readonly string _text;
    private int _pos;

    private JsonReader(string text) => _text = text;

    public static JsonNode Parse(string text)
    {
        var reader = new JsonReader(text);
        reader.SkipWhitespace();
        if (reader._pos < text.Length && text[reader._pos] == '\uFEFF') reader._pos++;
        reader.SkipWhitespace();
        var value = reader.ReadValue(0);
        reader.SkipWhitespace();
        if (reader._pos != text.Length) throw reader.Error("unexpected text after the JSON value");
        return value;
    }

    private JsonNode ReadValue(int depth)
    {
        if (depth > MaxDepth) throw Error($"nesting deeper than {MaxDepth} levels");
        if (_pos >= _text.Length) throw Error("unexpected end of the text");
        var c = _text[_pos];
        switch (c)
        {
            case '{':
                return ReadObject(depth);
            case '[':
                return ReadArray(depth);
            case '"':
                return new JsonString(ReadString());
            case 't':
                Expect("true");
                return JsonBool.True;
            case 'f':
                Expect("false");
                return JsonBool.False;
            case 'n':
                Expect("null");
                return JsonNull.Instance;
            case 'N':
                Expect("NaN");
                return new JsonNumber(double.NaN);
            case 'I':
                Expect("Infinity");
                return new JsonNumber(double.PositiveInfinity);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                throw Error($"unexpected character '{c}'");
        }
    }

    private JsonObject ReadObject(int depth)
    {
        var result = new JsonObject();
        _pos++;
        SkipWhitespace();
        if (Peek() == '}')
        {
            _pos++;
            return result;
        }
        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"') throw Error("expected a property name in double quotes");
            var key = ReadString();
            SkipWhitespace();
            if (Peek() != ':') throw Error("expected ':' after a property name");
            _pos++;
            SkipWhitespace();
            result.Add(key, ReadValue(depth + 1));
            SkipWhitespace();
            var next = Peek();
            _pos++;
            if (next == ',') continue;
            if (next == '}') return result;
            _pos--;
            throw Error("expected ',' or '}' in an object");
        }
    }

    private JsonArray ReadArray(int depth)
    {
        var result = new JsonArray();
        _pos++;
        SkipWhitespace();
        if (Peek() == ']')
        {
            _pos++;
            return result;
        }
        while (true)
        {
            SkipWhitespace();
            result.Items.Add(ReadValue(depth + 1));
            SkipWhitespace();
            var next = Peek();
            _pos++;
            if (next == ',') continue;
            if (next == ']') return result;
            _pos--;
            throw Error("expected ',' or ']' in an array");
        }
    }

    private string ReadString()
    {
        _pos++; // opening quote
        var start = _pos;
        while (_pos < _text.Length && _text[_pos] != '"' && _text[_pos] != '\\' && _text[_pos] >= ' ') _pos++;
        if (_pos < _text.Length && _text[_pos] == '"')
        {
            var plain = _text.Substring(start, _pos - start);
            _pos++;
            return plain;
        }
        var sb = new StringBuilder(_text, start, _pos - start, _pos - start + 16);
        while (true)
        {
            if (_pos >= _text.Length) throw Error("unterminated string");
            var c = _text[_pos++];
            if (c == '"') return sb.ToString();
            if (c < ' ')
            {
                _pos--;
                throw Error("control character in a string");
            }
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }
            if (_pos >= _text.Length) throw Error("unterminated string");
            var e = _text[_pos++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    if (_pos + 4 > _text.Length) throw Error("incomplete \\u escape");
                    if (!int.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                        throw Error("invalid \\u escape");
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default:
                    _pos--;
                    throw Error($"invalid escape '\\{e}'");
            }
        }
    }

    private JsonNumber ReadNumber()
    {
        var start = _pos;
        if (Peek() == '-')
        {
            _pos++;
            if (Peek() == 'I')
            {
                Expect("Infinity");
                return new JsonNumber(double.NegativeInfinity);
            }
        }
        if (Peek() == '0') _pos++;
        else if (IsDigit(Peek())) while (IsDigit(Peek())) _pos++;
        else throw Error("invalid number");
        if (Peek() == '.')
        {
            _pos++;
            if (!IsDigit(Peek())) throw Error("invalid number: no digit after '.'");
            while (IsDigit(Peek())) _pos++;
        }
        if (Peek() is 'e' or 'E')
        {
            _pos++;
            if (Peek() is '+' or '-') _pos++;
            if (!IsDigit(Peek())) throw Error("invalid number: no digit in the exponent");
            while (IsDigit(Peek())) _pos++;
        }
        var token = _text.Substring(start, _pos - start);
        return new JsonNumber(double.Parse(token, NumberStyles.Float, CultureInfo.InvariantCulture));
    }

    private static bool IsDigit(char c) => c >= '0' && c <= '9';

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private void Expect(string word)
    {
        if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0) throw Error("invalid literal");
        _pos += word.Length;
    }

    private void SkipWhitespace()
    {
        while (_pos < _text.Length && _text[_pos] is ' ' or '\t' or '\n' or '\r') _pos++;
    }

    private JsonReadException Error(string problem)
    {
        int line = 1, column = 1;
        var end = Math.Min(_pos, _text.Length);
        for (var i = 0; i < end; i++)
        {
            if (_text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else
            {
                column++;
            }
        }
        return new JsonReadException(problem, line, column);
    }
}
